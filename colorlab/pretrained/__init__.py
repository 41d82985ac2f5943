"""The authors' trained models in Keras (issue 17, in progress): reading their ``.pth`` files.

- :mod:`colorlab.pretrained.torch_files`: PyTorch state dicts (legacy and zip formats) read
  without PyTorch, through a restricted unpickler that never runs the file's code.
"""
