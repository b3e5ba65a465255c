import type { EnvironmentPolicy, ProgramPolicy } from "../policy/index.js";

/** The emulator's mirror of a real Thales host, under the reserved `.test` domain. */
export function emulatorHost(env: EnvironmentPolicy): string {
  return env.apiHost.replace(/\.[a-z]+$/, ".test");
}

/** Every (program, environment) pair the emulator serves, in a stable order. */
export function emulatedEnvironments(programs: readonly ProgramPolicy[]): Array<{ program: ProgramPolicy; environment: EnvironmentPolicy; host: string }> {
  return programs.flatMap((program) => program.environments.map((environment) => ({ program, environment, host: emulatorHost(environment) })));
}
