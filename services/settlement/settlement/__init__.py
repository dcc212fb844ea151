"""Settlement: catalogue, policies, institutions, eligibility read model and the settlement transactions."""
