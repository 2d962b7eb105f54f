"""Records: what a record is, where rows come from, and the rules a mapping checks them against.

The request body and its encodings (`body`), user-named files and stdin (`files`), streaming CSV
and JSONL rows (`readers`), and cg-mappings.toml with its field rules (`mappings`). May import
`output`; never `config`, `service`, `importing` or `sandbox`.
"""
