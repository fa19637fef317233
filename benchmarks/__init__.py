"""xdeg benchmarks: run each as python -m benchmarks.NAME."""
