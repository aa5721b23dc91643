"""The local environment: the profile's topology as real processes on loopback."""
