"""Run the MeshPose Live demo: ``python run_demo.py --help`` (no arguments: the sample clip)."""

from meshpose_app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
