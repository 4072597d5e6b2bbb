"""Reusable pieces of the Streamlit app: URL-bound controls, figures, cached runs, lesson presets."""
