// build.mjs bundles the renderer's stylesheet as text (loader '.css': 'text'): a renderer ships one file.
declare module '*.css' {
  const text: string;
  export default text;
}
