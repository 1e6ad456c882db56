"""Class-conditional doodle generators: a diffusion model and a GAN, sharing data, files and evaluation."""
