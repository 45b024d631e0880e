"""Fixtures shared by the predictor tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Batch-1 steps of a small GRU gain nothing from intra-op threads, and lose ~20x on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
