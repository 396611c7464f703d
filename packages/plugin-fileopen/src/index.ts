export { FileOpenPlugin, FILEOPEN_VARIANTS, defaultObjectPath, type FileOpenStats } from './plugin.js';
export { decodeFileOpen, type FileOpenEvent, type FileOpenFields } from './decode.js';
export { decodeOpenFlags, isWriteOpen, type OpenFlags } from './flags.js';
export { DEFAULT_DENY_PREFIXES, deniedByRules, denyHint, parseDenyPrefixes, passesDenyHint, PREFIX_MAX, type DenyPrefix, type DenyRule } from './deny-prefixes.js';
export { type FileOpenOptions, type FileOpenVariantName } from './options.js';
