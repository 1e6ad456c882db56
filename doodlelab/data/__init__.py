"""Quick, Draw! and MNIST data: readers, the one stroke pipeline, splits and caches."""
