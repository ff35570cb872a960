"""Build-time helpers of tools/build_topology.py (need the training extras: anny, gpytoolbox...)."""
