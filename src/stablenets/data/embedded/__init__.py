"""Package data: a subset of real MNIST digits (see README.md here for its provenance)."""
