// Placeholder: filled in by the Introspection API work.
export {};
