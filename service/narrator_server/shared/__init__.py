"""State shared by the servers of a deployment (Redis): connections and small adapters."""
