"""The security suite: each test makes an attempt an outside review made, and must be refused."""
