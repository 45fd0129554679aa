// Stylesheets are imported for their side effect: the bundler writes them beside the script.
declare module '*.css';
