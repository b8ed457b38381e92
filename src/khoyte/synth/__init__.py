"""The synthetic province (``khoyte synth``): facilities, people, visits and aggregate reports
generated from a seed, written as QĐ 130/4750 (or QĐ 4210) claim files plus a manifest that is
the ground truth for tests, dashboards and benchmarks. No real patient data is ever used.

Modules: ``geography`` (communes), ``facilities``, ``names``, ``people`` (the population as
numpy arrays), ``clinical`` (diagnoses, drugs, services), ``visits`` (one facility-day of
records), ``defects`` (dirty mode), ``manifest`` (ground truth), ``aggregates`` (monthly
companion reports), ``generate`` (orchestration, streaming), ``cli``.
"""
