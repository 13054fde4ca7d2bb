"""Test settings shared by every test file."""

import torch

# The test tensors are tiny: one thread avoids thread start-up and contention costing more than the work.
torch.set_num_threads(1)
