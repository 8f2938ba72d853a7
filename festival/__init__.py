"""The core of Festival: settings, database, accounts, tokens, festivals, errors."""
