"""pyengine.data — datasets, splits, samplers, the DataLoader (with worker processes), transforms and
the digit datasets."""
from .dataset import (ConcatDataset, Dataset, Subset, TensorDataset, labels_of, random_split, split_each_label,
                      stratified_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info, pin_memory
from ._random import sample_rng
from . import transforms
from .datasets import MNIST, DataError, DigitsDataset, ImageFolder, load_digits, read_idx

__all__ = ["Dataset", "TensorDataset", "ConcatDataset", "Subset", "random_split", "split_each_label",
           "stratified_split", "labels_of", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DataLoader", "default_collate", "default_convert",
           "get_worker_info", "pin_memory", "sample_rng", "transforms", "MNIST", "ImageFolder", "DigitsDataset",
           "load_digits", "read_idx", "DataError"]
