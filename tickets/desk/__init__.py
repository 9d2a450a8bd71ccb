"""Staff pages of the centre beside the admin: the hotline operator's call entry."""
