/** Directory holding index.html and assets/ of the built console. */
export declare const consoleAssetsDir: string;
