/** `self.mode` values (DESIGN §5.4), in the order `auto` tries them. Kept apart so config needs no resolver code. */
export const SELF_ADDRESS_MODES = ['auto', 'ecs', 'kubernetes', 'ec2', 'interface'] as const;
export type SelfAddressMode = (typeof SELF_ADDRESS_MODES)[number];
