"""The authors' trained models in Keras (issue 17, in progress).

- :mod:`colorlab.pretrained.torch_files`: PyTorch state dicts (legacy and zip formats) read
  without PyTorch, through a restricted unpickler that never runs the file's code.
- :mod:`colorlab.pretrained.eccv16` and :mod:`colorlab.pretrained.siggraph17`: the two
  released networks layer for layer in Keras, with ``load_state_dict`` copying the official
  weights name for name (:mod:`colorlab.pretrained.convert`).
"""
