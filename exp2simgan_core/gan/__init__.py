"""Exp2SimGAN: dual contrastive GAN between convolved (experiment-like) and unconvolved spectra.

Modules: ``settings`` (``GanSettings`` and what it holds, without torch), ``layers``
(dimension-generic blocks), ``networks`` (generator, discriminator, PatchNCE heads,
``translate_full``), ``losses``, ``model`` (the dual GAN), ``state`` (a run's networks,
optimisers and random state), ``train``, ``checkpoint`` (files, scaling, ``load_generator``),
``select`` (Fréchet-distance checkpoint selection), ``translate`` and ``back_translation``.
Importing the package imports none of them: the settings load without torch.
"""
