/** An error the simulated node answers with: HTTP status, message, error_code and vm_error_code as a node sends them. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly vmErrorCode: number | undefined;

  constructor(status: number, message: string, code: string, vmErrorCode?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.vmErrorCode = vmErrorCode;
  }
}
