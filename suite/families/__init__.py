"""The modern recurrent families (minGRU, minLSTM, LRU, S6, expRNN): one module each, with its
equations in the docstring, its initialisation recipe and the torch module.

Their knobs, typed with their defaults, live in `suite/families/knobs.py`, which imports no torch
(composing a config must not wait for it); `suite.model.cells` registers them beside the classic three's.
Every family module takes `(input_size, hidden, knobs)` and gives torch's recurrent interface:
batch_first `forward(x, state=None) -> (outputs (batch, T, hidden), state)`, where `state` is a
tensor or a tuple of tensors laid out as torch's, (layers, batch, ...), and running step by step
(passing the state on) equals running the whole sequence (suite/training/diagnostics.py relies on it). A
family whose output is not its state (y_t = Re(C h_t) + D x_t) sets the class attribute
`output_is_state = False`; otherwise the head reads the state's first part, h_t of the last layer.
"""
