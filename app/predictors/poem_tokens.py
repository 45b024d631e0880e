"""The special tokens every poem vocabulary starts with, in this order (vocab.json is checked against it).

Serving owns them because it reads the committed vocabulary; training builds vocabularies with them.
"""

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
