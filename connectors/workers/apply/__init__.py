"""The apply side of the sync: Kafka batches applied to MongoDB or Salesforce, then committed."""
