"""Data layer: the family contract, sample data, validation and the ETL steps the Airflow DAG calls."""
