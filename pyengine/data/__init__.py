"""pyengine.data — datasets, splits, the DataLoader, transforms and the digit datasets."""
from .dataset import Dataset, Subset, TensorDataset, labels_of, random_split, split_each_label, stratified_split
from .dataloader import DataLoader, default_collate
from . import transforms
from .datasets import MNIST, DataError, DigitsDataset, ImageFolder, load_digits, read_idx

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "split_each_label", "stratified_split",
           "labels_of", "DataLoader", "default_collate", "transforms", "MNIST", "ImageFolder", "DigitsDataset",
           "load_digits", "read_idx", "DataError"]
