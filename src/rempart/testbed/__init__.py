"""The testbed: a synthetic, labelled health-portal world."""
