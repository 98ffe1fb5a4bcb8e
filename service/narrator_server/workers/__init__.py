"""Worker processes for CPU-bound work on hostile input (the `Offload` port's adapter)."""
