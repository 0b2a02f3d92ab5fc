"""Letters (issue 11 §3): sent through Pingen v2 or printed in the office in a daily batch.

The channel adapter is kommunikation/channels/letter.py; this package keeps the letters'
postal state (models), the Pingen client, the status webhook and the print batch.
"""
