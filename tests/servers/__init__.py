"""Real servers started by tests on free loopback ports."""
