//! The flow as a picture: Mermaid and Graphviz DOT renderings of the IR.
