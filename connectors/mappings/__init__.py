"""A mapping's shape: built from Salesforce's describe, checked against it, turned into a MongoDB
validator, and watched for drift. Read by the admin, the API and the workers alike."""
