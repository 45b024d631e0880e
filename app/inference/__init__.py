"""The inference core: one call per model, the same for every door.

A request walks route → core → batcher → model. Each door (app/api/routes/*, app/api/v2*) only turns
its wire format into typed inputs — 28×28 arrays, validated house rows, a poem request — calls one of
these, and turns the result back into its format:

- images.classify(serving, images, explain=...)   digit and fashion: probabilities (and saliency maps)
- houses.price(serving, houses)                    prices with their out-of-training-range warnings
- poems.prepare / poems.write / poems.stream       one resolved PoemSpec, written whole or streamed

Every rule a request must satisfy lives below the doors (app/schemas/, app/predictors/), and every
failure is a typed error (app/core/errors.py) that each door renders in its own shape.
"""
