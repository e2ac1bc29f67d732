"""Model versions on S3: the store, the publish/rollback lifecycle, and the serving-side provider."""
