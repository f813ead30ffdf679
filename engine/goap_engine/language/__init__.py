"""The goal and pack language: one module per section of a file.

``uses`` reads a file and everything it uses; ``scope`` gives the names each
file sees and compiles its expressions; ``state``, ``hooks``, ``actions``,
``goal`` and ``overrides`` read those sections into the model; ``builtins``
declares the built-in hooks and their arguments, and ``builtin_checks`` holds
a hook's ``with:`` to them.  ``loader`` puts them together.
"""
