"""The home page: the chosen funding year at a glance."""
