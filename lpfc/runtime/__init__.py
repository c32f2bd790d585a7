"""The runtime: running what lpfc compiled, from Python.

* :mod:`.session` - ``lpfc.load`` and :class:`~lpfc.runtime.session.Session` (a model library through ctypes)
* :mod:`.profile` - per-kernel profiles of a library (``Session.profile``, ``lpfc run --profile``)
* :mod:`.foreign` - a library built for another machine (a cross target): its ELF header, its test driver,
  and :class:`~lpfc.runtime.foreign.DriverSession`, which runs it through that driver under qemu
"""
