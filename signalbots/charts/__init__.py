"""Charts: a picture with every trade signal, for ``/chart`` and for ``backtest --plot``.

``spec`` turns a signal and the recent market data (``history``) into a ``ChartSpec`` — plain, picklable
data; ``draw`` turns a spec into PNG bytes with matplotlib (imported only there, only when first needed);
``renderer`` runs ``draw`` in a separate worker process, bounded in time and memory, so the event loop
never renders; ``illustrator`` sends the result as a reply to the signal's message.
"""
