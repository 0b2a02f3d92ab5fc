"""Call tasks (issue 11 §4): the ``call`` channel plans a call for staff instead of sending."""
