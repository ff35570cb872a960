"""MeshPose Live desktop and command-line applications."""
