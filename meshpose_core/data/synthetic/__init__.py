"""Synthetic training samples: posed bodies rendered with full MeshPose supervision."""
