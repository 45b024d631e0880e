"""The poem model's adaptive softmax: full log-probabilities, the same loss as a plain softmax, scriptable."""

import pytest
import torch
import torch.nn.functional as F

from app.models.torchscript import script_module
from training.poem_model import AdaptiveHead, CharRNN

VOCAB = 50


@pytest.fixture
def model() -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(VOCAB, 8, 12, 2, "gru", adaptive_cutoffs=[10, 30]).eval()


def test_forward_gives_log_probabilities_over_the_whole_vocabulary(model):
    log_probs, hidden = model(torch.randint(0, VOCAB, (3, 7)), model.initial_hidden(3))
    assert log_probs.shape == (3, 7, VOCAB) and hidden.shape == (2, 3, 12)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 7))


def test_the_training_loss_is_the_cross_entropy_of_those_log_probabilities(model):
    # Targets in all three clusters (shortlist, first tail, second tail).
    tokens, targets = torch.randint(0, VOCAB, (4, 9)), torch.tensor([[0, 5, 9, 10, 29, 30, 49, 12, 3]] * 4)
    log_probs, _ = model(tokens, model.initial_hidden(4))
    expected = F.cross_entropy(log_probs.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(model.loss(tokens, targets), expected)


def test_the_tails_are_narrower_projections():
    head = AdaptiveHead(64, VOCAB, [10, 30], div_value=4.0)
    assert head.head.out_features == 10 + 2
    assert [tail[0].out_features for tail in head.tails] == [16, 4]
    assert [tail[1].out_features for tail in head.tails] == [20, 20]


@pytest.mark.parametrize("cutoffs", [[], [0, 10], [10, 10], [30, 10], [10, VOCAB]])
def test_bad_cutoffs_are_refused(cutoffs):
    with pytest.raises(ValueError, match="cutoffs must increase strictly"):
        AdaptiveHead(8, VOCAB, cutoffs)


def test_the_scripted_model_steps_like_the_eager_one(model):
    scripted = script_module(model)
    tokens = torch.randint(0, VOCAB, (2, 5))
    eager, _ = model(tokens, model.initial_hidden(2))
    script, _ = scripted(tokens, scripted.initial_hidden(2))
    torch.testing.assert_close(script, eager)
